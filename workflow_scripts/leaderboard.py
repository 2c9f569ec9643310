from synthmir.evaluate import write_leaderboard
from synthmir.logs import job_log

with job_log(snakemake.log[0]):
    write_leaderboard(snakemake.params.models, "results/models", snakemake.output.leaderboard,
                      snakemake.output.best, snakemake.output.best_by_target)
