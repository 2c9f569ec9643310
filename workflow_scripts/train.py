from synthmir import layout
from synthmir.learn.train import train_model
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    train_model(snakemake.input.features, snakemake.input.splits, snakemake.params.model,
                layout.model_dir(snakemake.wildcards.model), threads=snakemake.threads)
