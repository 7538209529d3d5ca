#!/bin/bash
# Runs `bench overhead`'s in-memory cases of several builds alternately, in the same minutes (docs/BENCHMARKS.md, issue 19).
# Usage: alternate.sh OUT ROUNDS A_DLL B_DLL C_DLL   (each a Tunesmith.Bench.dll; D is C with concurrent GC forced on,
# since bench/Tunesmith.Bench is built with ConcurrentGarbageCollection=false).
out=$1; rounds=$2; a=$3; b=$4; c=$5
for i in $(seq 1 "$rounds"); do
  for v in A B C D; do
    case $v in A) dll=$a; env="";; B) dll=$b; env="";; C) dll=$c; env="";; D) dll=$c; env="DOTNET_gcConcurrent=1";; esac
    echo "== $v round $i $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)" >> "$out"
    env $env dotnet "$dll" overhead --repeats 3 --cases 'in-memory' 2>&1 | grep "x1000\|x100000" >> "$out"
  done
done
