# Audio shards -> reassigned pitchgrams, one HDF5 part per shard, merged into one file.

# synthmir.features.store and what it runs (pitchgram computation, audio decoding).
FEATURES_CODE = library(
    "features/store.py", "features/pitchgram.py", "audio.py", "music.py", "layout.py"
)


rule features_shard:
    input:
        manifest=layout.shard_manifest(),
        code=FEATURES_CODE,
    output:
        part=layout.features_part(),
    params:
        features=lambda w: config["features"][w.features],
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/features/{features}/shard{shard}.log",
    benchmark:
        "benchmarks/{dataset}/features/{features}/shard{shard}.tsv"
    resources:
        mem_mb=1000,
        runtime=60,
    script:
        "../workflow_scripts/features_shard.py"


rule features_merge:
    input:
        parts=get_feature_parts,
        code=FEATURES_CODE,
    output:
        h5=layout.features_h5(),
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/features/{features}.log",
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../workflow_scripts/features_merge.py"
