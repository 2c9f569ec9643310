from synthmir.logs import job_log
from synthmir.train import train_model

with job_log(snakemake.log[0]):
    train_model(snakemake.input.features, snakemake.input.splits, snakemake.params.model,
                f"results/models/{snakemake.wildcards.model}", threads=snakemake.threads)
