from synthmir.evaluate.generalization import write_generalization
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    write_generalization(snakemake.params.models, list(snakemake.input.external),
                         snakemake.output.generalization)
