from synthmir.logs import job_log
from synthmir.splits import write_splits

with job_log(snakemake.log[0]):
    write_splits(snakemake.input.clips, snakemake.params.split, snakemake.output.splits)
