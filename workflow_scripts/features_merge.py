from synthmir.features.store import merge_shards
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    merge_shards(list(snakemake.input.parts), snakemake.output.h5)
