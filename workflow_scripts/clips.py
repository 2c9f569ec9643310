from synthmir.data.render import merge_manifests
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    merge_manifests(list(snakemake.input.manifests), snakemake.output.clips)
