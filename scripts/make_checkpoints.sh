#!/usr/bin/env bash
# Regenerate checkpoints/ and analyses/: the mainline (p = 113, add, 30% of pairs, seed 0,
# the paper's hyperparameters, 40k epochs) and four more seeds, each trained with a
# snapshot every 100 epochs (float16) so that the progress measures are computed at the
# paper's resolution, then thinned for shipping. About 25 minutes of a 2-core CPU per run.
# Training resumes from out/dense/ (--resume), so a killed job loses at most 5,000 epochs.
# Arguments name the runs to make (default: all): bash scripts/make_checkpoints.sh seed1 seed2
set -euo pipefail
cd "$(dirname "$0")/.."
G=.venv/bin/grok-interp
DENSE="--snapshot-every 100 --snapshot-dtype float16 --save-every 5000"
RUNS=("$@")
[ ${#RUNS[@]} -gt 0 ] || RUNS=(mainline seed1 seed2 seed3 seed4)
mkdir -p out/dense
dense() {  # OUT SEED: train to 40k epochs, or continue an interrupted run (bit-for-bit)
  if [ -f "$1" ]; then $G train --out "$1" --resume --epochs 40000
  else $G train --seed "$2" --epochs 40000 $DENSE --out "$1"; fi
}
for r in "${RUNS[@]}"; do  # one at a time: on the CPU stacking mainline-sized models buys nothing
  case $r in
    mainline) dense out/dense/mainline.pt 0
      $G progress out/dense/mainline.pt --out checkpoints/mainline.pt --overwrite \
        --keep-every 1000 --sparse-after 16000 --sparse-every 4000 ;;
    seed[1-4]) dense "out/dense/$r.pt" "${r#seed}"
      $G progress "out/dense/$r.pt" --out "checkpoints/$r.pt" --overwrite \
        --keep-every 5000 --sparse-after 20000 --sparse-every 20000 ;;
    *) echo "make_checkpoints: unknown run '$r' (mainline, seed1 ... seed4)" >&2; exit 2 ;;
  esac
  $G analyze "checkpoints/$r.pt" --out "analyses/$r" --no-figures --no-over-training \
    --overwrite > /dev/null
done
du -sh checkpoints
