# Dataset splits and Keras training.


rule splits:
    input:
        clips=layout.clips_csv(),
        code=library("splits"),
    output:
        splits=layout.splits_csv(),
    params:
        split=lambda w: get_dataset(w)["split"],
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/splits.log",
    localrule: True
    script:
        "../workflow_scripts/splits.py"


rule split_scheme:
    input:
        clips=layout.clips_csv(),
        code=library("splits"),
    output:
        splits=layout.splits_csv(scheme="{scheme}"),
    params:
        split=get_split_scheme,
    conda:
        "../environment.yml"
    log:
        "logs/{dataset}/splits/{scheme}.log",
    localrule: True
    script:
        "../workflow_scripts/splits.py"


rule train:
    input:
        unpack(get_model_data),
        code=library("train"),
    output:
        model=layout.model_file(layout.MODEL_KERAS),
        preprocessing=layout.model_file(layout.PREPROCESSING_JSON),
        history=layout.model_file(layout.HISTORY_CSV),
        summary=layout.model_file(layout.SUMMARY_TXT),
        train=layout.model_file(layout.TRAIN_JSON),
    params:
        model=get_model,
    conda:
        "../environment.yml"
    log:
        "logs/models/{model}/train.log",
    benchmark:
        "benchmarks/models/{model}/train.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    script:
        "../workflow_scripts/train.py"
