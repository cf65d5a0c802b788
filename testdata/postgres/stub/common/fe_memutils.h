/* not needed for the layouts pg_offsets.c prints */
