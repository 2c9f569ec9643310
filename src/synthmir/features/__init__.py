"""Stage 2, features: pitchgrams (reassigned chromagrams) of every clip, in one HDF5 file."""
