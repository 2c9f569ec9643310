import os

from synthmir import layout
from synthmir.evaluate.external import evaluate_external
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    folder = snakemake.params.folder
    evaluate_external(layout.model_dir(snakemake.wildcards.model), snakemake.wildcards.evaluation,
                      folder, os.path.relpath(snakemake.input.labels, folder),
                      snakemake.params.evaluation["column"], snakemake.output.scores,
                      snakemake.output.files, threads=snakemake.threads)
