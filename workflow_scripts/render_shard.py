from synthmir import layout
from synthmir.data.render import render_shard
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    render_shard(snakemake.wildcards.dataset, snakemake.params.dataset, snakemake.params.soundfonts,
                 snakemake.params.playable, int(snakemake.wildcards.shard),
                 layout.dataset_dir(snakemake.wildcards.dataset), snakemake.output.manifest)
