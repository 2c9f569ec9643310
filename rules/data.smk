# General MIDI table -> measured playable pitches -> MIDI clips rendered by FluidSynth.


rule playable:
    input:
        code=library("playable"),
    output:
        table=layout.playable_csv(),
    params:
        soundfont=lambda w: config["soundfonts"][w.soundfont],
        probe=config["playable"],
    conda:
        "../environment.yml"
    log:
        "logs/playable/{soundfont}.log",
    benchmark:
        "benchmarks/playable/{soundfont}.tsv"
    resources:
        mem_mb=1000,
        runtime=30,
    script:
        "../workflow_scripts/playable.py"


rule render_shard:
    input:
        playable=lambda w: list(get_playable_tables(w).values()),
        mix_source=get_mix_source,
        code=library("render_shard"),
    output:
        manifest=layout.shard_manifest(),
        midi=directory(layout.shard_midi_dir()),
        audio=directory(layout.shard_audio_dir()),
    params:
        dataset=get_render_params,
        soundfonts=get_soundfonts,
        playable=get_playable_tables,
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/render_shard{shard}.log",
    benchmark:
        "benchmarks/{dataset}/render_shard{shard}.tsv"
    resources:
        mem_mb=1500,
        runtime=60,
    script:
        "../workflow_scripts/render_shard.py"


rule clips:
    input:
        manifests=get_shard_manifests,
        code=library("clips"),
    output:
        clips=layout.clips_csv(),
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/clips.log",
    localrule: True
    script:
        "../workflow_scripts/clips.py"
