#!/bin/sh
# Test helper for a rank that dies mid-run: `kill_rank.sh FILE COMMAND...`
# runs COMMAND (exec: the same process); on MPI rank 1 it is killed with
# SIGKILL as soon as FILE exists.
file=$1
shift
if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
  (while [ ! -f "$file" ]; do sleep 0.05; done; kill -9 $$) &
fi
exec "$@"
