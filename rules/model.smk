# Dataset splits and Keras training.


rule splits:
    input:
        clips="data/{dataset}/clips.csv",
        code=library("splits.py"),
    output:
        splits="data/{dataset}/splits.csv",
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
        clips="data/{dataset}/clips.csv",
        code=library("splits.py"),
    output:
        splits="data/{dataset}/splits/{scheme}.csv",
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
        code=library("train.py", "models.py"),
    output:
        model="results/models/{model}/model.keras",
        preprocessing="results/models/{model}/preprocessing.json",
        history="results/models/{model}/history.csv",
        summary="results/models/{model}/summary.txt",
        train="results/models/{model}/train.json",
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
