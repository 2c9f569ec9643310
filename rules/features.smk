# Audio shards -> reassigned pitchgrams, one HDF5 part per shard, merged into one file.


rule features_shard:
    input:
        manifest=layout.shard_manifest(),
        audio=layout.shard_audio_dir(),
        midi=layout.shard_midi_dir(),
        code=library("features_shard"),
    output:
        part=layout.features_part(),
    params:
        features=lambda w: config["features"][w.features],
        # music clips are labelled frame by frame, from their MIDI files
        frame_labels=lambda w: get_dataset(w)["kind"] == "music",
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
        code=library("features_merge"),
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
