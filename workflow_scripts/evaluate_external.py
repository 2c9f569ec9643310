from synthmir import layout
from synthmir.evaluate.external import evaluate_external
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    evaluation = snakemake.params.evaluation
    labels = "clips.csv" if "dataset" in evaluation else evaluation["labels"]
    evaluate_external(layout.model_dir(snakemake.wildcards.model), snakemake.wildcards.evaluation,
                      snakemake.params.folder, labels, evaluation["column"],
                      snakemake.output.scores, snakemake.output.files, threads=snakemake.threads)
