# General MIDI table -> measured playable pitches -> MIDI clips rendered by FluidSynth.


rule playable:
    input:
        code=library("instruments.py", "synth.py"),
    output:
        table="data/playable/{soundfont}.csv",
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
        code=library("data.py", "midi.py", "synth.py", "instruments.py"),
    output:
        manifest="data/{dataset}/audio/shard{shard}.csv",
        midi=directory("data/{dataset}/midi/shard{shard}"),
        audio=directory("data/{dataset}/audio/shard{shard}"),
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
        code=library("data.py"),
    output:
        clips="data/{dataset}/clips.csv",
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/clips.log",
    localrule: True
    script:
        "../workflow_scripts/clips.py"
