from synthmir import layout
from synthmir.features.store import extract_shard
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    extract_shard(snakemake.input.manifest, layout.dataset_dir(snakemake.wildcards.dataset),
                  snakemake.output.part, snakemake.params.features,
                  snakemake.params.frame_labels)
