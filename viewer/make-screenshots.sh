#!/usr/bin/env bash
# Renders the README's viewer screenshots (docs/viewer-*.png) with `balmkit view --screenshot`.
# Needs the built viewer (npm run build) and Chromium (apt-get install -y chromium).
# The structure is the viewer's test fixture: the shipped template baseline's prediction of the
# Fv of 1A14 (Chothia-numbered, predicted error in the B-factors; test/fixtures/viewer/make-fixtures.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
for mode in error region chain; do
  node --import tsx cli/main.ts view test/fixtures/viewer/fv-1a14-prediction.pdb \
    --screenshot "docs/viewer-$mode.png" --color "$mode" --width 1100 --height 640
done
