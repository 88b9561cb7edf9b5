#!/usr/bin/env bash
# Regenerate checkpoints/ and analyses/: the mainline (p = 113, add, 30% of pairs, seed 0,
# the paper's hyperparameters, 40k epochs) and four more seeds, each trained with a
# snapshot every 100 epochs (float16) so that the progress measures are computed at the
# paper's resolution, then thinned for shipping. About 30 minutes of CPU for the
# mainline and 4 x SEED_EPOCHS x 37 ms for the seeds on a 2-core CPU.
#   SEED_EPOCHS=40000 bash scripts/make_checkpoints.sh    # the paper's length for the seeds
set -euo pipefail
cd "$(dirname "$0")/.."
G=.venv/bin/grok-interp
DENSE="--snapshot-every 100 --snapshot-dtype float16 --save-every 5000"
mkdir -p out/dense
[ -f out/dense/mainline.pt ] || $G train --seed 0 --epochs 40000 $DENSE --out out/dense/mainline.pt
$G progress out/dense/mainline.pt --out checkpoints/mainline.pt \
  --keep-every 1000 --sparse-after 16000 --sparse-every 4000
[ -f out/dense/seed1.pt ] || $G train --seed 1 2 3 4 --epochs "${SEED_EPOCHS:-15000}" $DENSE \
  --out "out/dense/seed{seed}.pt"
for s in 1 2 3 4; do
  $G progress "out/dense/seed$s.pt" --out "checkpoints/seed$s.pt" --keep-every 5000
done
for r in mainline seed1 seed2 seed3 seed4; do
  $G analyze "checkpoints/$r.pt" --out "analyses/$r" --no-figures > /dev/null
done
du -sh checkpoints
