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
        # Which plots exist depends on the task, hence a folder; the report takes its PNGs.
        plots=report(
            directory("results/models/{model}/evaluation/plots"),
            patterns=["{plot}.png"],
            caption="captions/evaluation_plot.rst",
            category="Models",
            subcategory="{model}",
            labels={"model": "{model}", "plot": "{plot}"},
        ),
    params:
        dataset_dir=lambda w: f"data/{get_model(w)['dataset']}",
    conda:
        "../environment.yml"
    log:
        "logs/models/{model}/evaluate.log",
    benchmark:
        "benchmarks/models/{model}/evaluate.tsv"
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
        leaderboard=report(
            "results/leaderboard.csv",
            caption="captions/leaderboard.rst",
            category="Leaderboard",
            labels={"table": "leaderboard"},
        ),
        best="results/best_model",
        best_by_target="results/best_models.json",
    params:
        models=MODELS,
    conda:
        "../environment.yml"
    log:
        "logs/leaderboard.log",
    localrule: True
    script:
        "../workflow_scripts/leaderboard.py"
