# Per-model evaluation, the leaderboard across models, and the report page over everything.


rule evaluate:
    input:
        unpack(get_model_data),
        model=layout.model_file(layout.MODEL_KERAS),
        preprocessing=layout.model_file(layout.PREPROCESSING_JSON),
        history=layout.model_file(layout.HISTORY_CSV),
        train=layout.model_file(layout.TRAIN_JSON),
        code=library("evaluate"),
    output:
        metrics=layout.model_file(layout.METRICS_JSON),
        predictions=layout.model_file(layout.PREDICTIONS_CSV),
        # Which plots exist depends on the task, hence a folder; the report takes its PNGs.
        plots=report(
            directory(layout.model_file(layout.PLOTS)),
            patterns=["{plot}.png"],
            caption="captions/evaluation_plot.rst",
            category="Models",
            subcategory="{model}",
            labels={"model": "{model}", "plot": "{plot}"},
        ),
    params:
        dataset_dir=lambda w: layout.dataset_dir(get_model(w)["dataset"]),
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
        metrics=model_files(layout.METRICS_JSON),
        train=model_files(layout.TRAIN_JSON),
        # harmony models are ranked by their exact match on music first
        music=[layout.external_result(".json", e, m) for e, m in external_pairs()
               if EVALUATIONS[e]["column"] == "pitch_classes"],
        code=library("leaderboard"),
    output:
        leaderboard=report(
            layout.LEADERBOARD_CSV,
            caption="captions/leaderboard.rst",
            category="Leaderboard",
            labels={"table": "leaderboard"},
        ),
        best=layout.BEST_MODEL,
        best_by_target=layout.BEST_MODELS_JSON,
    params:
        models=MODELS,
    conda:
        "../environment.yml"
    log:
        "logs/leaderboard.log",
    localrule: True
    script:
        "../workflow_scripts/leaderboard.py"


# One self-contained HTML page with everything.
rule report:
    input:
        leaderboard=layout.LEADERBOARD_CSV,
        best=layout.BEST_MODEL,
        metrics=model_files(layout.METRICS_JSON),
        train=model_files(layout.TRAIN_JSON),
        summary=model_files(layout.SUMMARY_TXT),
        plots=model_files(layout.PLOTS),
        clips=[layout.clips_csv(dataset) for dataset in config["datasets"]],
        splits=[layout.splits_csv(dataset) for dataset in config["datasets"]],
        # Example clips (and misclassified ones) are embedded as audio.
        audio=[folder for dataset in config["datasets"] for folder in dataset_audio(dataset)],
        # Example pitchgrams per dataset (from the feature file of its first model).
        features=sorted({layout.features_h5(m["dataset"], m["features"]) for m in MODELS.values()}),
        generalization=layout.GENERALIZATION_JSON,
        code=library("report"),
    output:
        report=report(
            layout.REPORT_HTML,
            caption="captions/report.rst",
            category="Report",
            labels={"page": "report.html"},
        ),
    params:
        config=config,
        models=MODELS,
    conda:
        "../environment.yml"
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../workflow_scripts/report.py"


# Every model scored on each external evaluation set of its target (config `evaluations`).
rule evaluate_external:
    input:
        unpack(get_evaluation_files),
        model=layout.model_file(layout.MODEL_KERAS),
        preprocessing=layout.model_file(layout.PREPROCESSING_JSON),
        code=library("evaluate_external"),
    output:
        scores=layout.external_result(".json"),
        files=layout.external_result(".csv"),
    params:
        evaluation=lambda w: EVALUATIONS[w.evaluation],
        folder=lambda w: evaluation_folder(EVALUATIONS[w.evaluation]),
    conda:
        "../environment.yml"
    log:
        "logs/models/{model}/external/{evaluation}.log",
    benchmark:
        "benchmarks/models/{model}/external/{evaluation}.tsv"
    threads: 2
    resources:
        mem_mb=3000,
        runtime=30,
    script:
        "../workflow_scripts/evaluate_external.py"


# Leave-one-sound-font-out matrix, degradation table and external sets, for the report.
rule generalization:
    input:
        predictions=model_files(layout.PREDICTIONS_CSV),
        external=[layout.external_result(".json", e, m) for e, m in external_pairs()],
        code=library("generalization"),
    output:
        generalization=layout.GENERALIZATION_JSON,
    params:
        models=MODELS,
    conda:
        "../environment.yml"
    log:
        "logs/generalization.log",
    localrule: True
    script:
        "../workflow_scripts/generalization.py"
