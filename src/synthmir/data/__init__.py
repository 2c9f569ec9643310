"""Stage 1, data: the GM instrument table, MIDI clips, FluidSynth rendering, labelled datasets."""
