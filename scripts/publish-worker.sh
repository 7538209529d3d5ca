#!/usr/bin/env bash
# Publishes `tunesmith` for cluster nodes: self-contained (no .NET install needed on the nodes) and ReadyToRun (compiled
# ahead of time, so a one-trial Slurm job does not spend its first seconds in the JIT). Put the folder on a file system
# the compute nodes share and point `tunesmith slurm submit --worker-command` (or your PATH) at DIR/tunesmith.
#
#   scripts/publish-worker.sh [DIR]      default DIR: dist/tunesmith-linux-x64
#
# Takes about a minute; needs the linux-x64 runtime pack (dotnet restores it from NuGet the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/tunesmith-linux-x64}
dotnet publish src/Tunesmith.Cli -c Release -r linux-x64 --self-contained -p:PublishReadyToRun=true -o "$out" >&2
ln -sfn Tunesmith.Cli "$out/tunesmith"
echo "$(cd "$out" && pwd)/tunesmith"
