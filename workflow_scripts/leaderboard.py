from synthmir import layout
from synthmir.evaluate.leaderboard import write_leaderboard
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    write_leaderboard(snakemake.params.models, layout.MODELS, snakemake.output.leaderboard,
                      snakemake.output.best, snakemake.output.best_by_target,
                      snakemake.input.music)
