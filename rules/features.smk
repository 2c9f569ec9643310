# Audio shards -> reassigned pitchgrams, one HDF5 part per shard, merged into one file.


rule features_shard:
    input:
        manifest="data/{dataset}/audio/shard{shard}.csv",
        code=library("features.py"),
    output:
        part="data/{dataset}/features/{features}/shard{shard}.h5",
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


rule features:
    input:
        parts=get_feature_parts,
        code=library("features.py"),
    output:
        h5="data/{dataset}/features/{features}.h5",
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/features/{features}.log",
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../workflow_scripts/features_merge.py"
