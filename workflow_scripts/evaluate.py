from synthmir import layout
from synthmir.evaluate.metrics import evaluate_model
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    evaluate_model(layout.model_dir(snakemake.wildcards.model), snakemake.input.features,
                   snakemake.input.splits, snakemake.params.dataset_dir, threads=snakemake.threads)
