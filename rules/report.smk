# One self-contained HTML page with everything.


rule report:
    input:
        leaderboard="results/leaderboard.csv",
        metrics=model_files("evaluation/metrics.json"),
        clips=expand("data/{dataset}/clips.csv", dataset=config["datasets"]),
        code=library("report.py", "templates/report.html.j2"),
    output:
        report="results/report.html",
    params:
        config=config,
        models=MODELS,
    conda:
        "../environment.yml"
    log:
        "logs/report.log",
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../workflow_scripts/report.py"
