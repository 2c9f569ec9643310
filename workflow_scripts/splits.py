from synthmir.learn.splits import write_splits
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    write_splits(snakemake.input.clips, snakemake.params.split, snakemake.output.splits)
