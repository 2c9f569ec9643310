# General MIDI table -> measured playable pitches -> MIDI clips rendered by FluidSynth.

# synthmir.data.render and what it runs (drawing clips, MIDI, FluidSynth, audio files).
RENDER_CODE = library(
    "data/render.py", "data/clips.py", "data/randomize.py", "data/degrade.py", "data/midi.py",
    "data/synth.py", "data/instruments.py", "data/gm_instruments.csv", "audio.py", "layout.py",
)


rule playable:
    input:
        code=library(
            "data/instruments.py", "data/midi.py", "data/synth.py", "audio.py", "layout.py"
        ),
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
        code=RENDER_CODE,
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
        code=RENDER_CODE,
    output:
        clips=layout.clips_csv(),
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/clips.log",
    localrule: True
    script:
        "../workflow_scripts/clips.py"
