from synthmir.features import extract_shard
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    extract_shard(snakemake.input.manifest, f"data/{snakemake.wildcards.dataset}",
                  snakemake.output.part, snakemake.params.features)
