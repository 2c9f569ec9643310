# Per-model evaluation, then the leaderboard across models.


rule evaluate:
    input:
        unpack(get_model_data),
        model="results/models/{model}/model.keras",
        history="results/models/{model}/history.csv",
        train="results/models/{model}/train.json",
        code=library("evaluate.py", "predictor.py", "plots.py"),
    output:
        metrics="results/models/{model}/evaluation/metrics.json",
        predictions="results/models/{model}/evaluation/predictions.csv",
        plots=directory("results/models/{model}/evaluation/plots"),
    params:
        dataset_dir=lambda w: f"data/{get_model(w)['dataset']}",
    conda:
        "../environment.yml"
    log:
        "logs/models/{model}/evaluate.log",
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../workflow_scripts/evaluate.py"


rule leaderboard:
    input:
        metrics=model_files("evaluation/metrics.json"),
        train=model_files("train.json"),
        code=library("evaluate.py"),
    output:
        leaderboard="results/leaderboard.csv",
        best="results/best_model",
    params:
        models=MODELS,
    conda:
        "../environment.yml"
    log:
        "logs/leaderboard.log",
    localrule: True
    script:
        "../workflow_scripts/leaderboard.py"
