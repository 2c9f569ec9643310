# One self-contained HTML page with everything.


rule report:
    input:
        leaderboard="results/leaderboard.csv",
        metrics=model_files("evaluation/metrics.json"),
        plots=model_files("evaluation/plots"),
        clips=expand("data/{dataset}/clips.csv", dataset=config["datasets"]),
        # Example pitchgrams per dataset (from the feature file of its first model).
        features=sorted(
            {f"data/{m['dataset']}/features/{m['features']}.h5" for m in MODELS.values()}
        ),
        code=library("report.py", "plots.py", "templates/report.html.j2"),
    output:
        report=report(
            "results/report.html",
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
