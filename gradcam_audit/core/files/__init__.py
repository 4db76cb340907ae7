"""The one door for files: bounded JSON reading, the atomic writer and the run folder's lock, file hashes."""
