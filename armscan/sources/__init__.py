"""Sources yield the files and archive members that analyzers look at."""
