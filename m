clip_id,index,shard,file,midi,soundfont,program,name,family,programs,pitch,pitches,pitch_classes,n_notes,chord,root,inversion,voicing,velocity,velocities,detune_cents,note_detune_cents,onsets_ms,gain_db,snr_db,rms_db,peak,silent
c000000,0,0,audio/shard0/c000000.flac,midi/shard0/c000000.mid,fluidr3,56,trumpet,brass,56,11,11,11,1,note,,,,105,105,0.0,0.0,0.0,0.0,,-35.21,0.1273,False
c000001,1,0,audio/shard0/c000001.flac,midi/shard0/c000001.mid,fluidr3,56,trumpet,brass,56,12,12,0,1,note,,,,68,68,0.0,0.0,0.0,0.0,,-42.43,0.0531,False
c000002,2,0,audio/shard0/c000002.flac,midi/shard0/c000002.mid,fluidr3,0,acoustic_grand_piano,piano,0,11,11,11,1,note,,,,113,113,0.0,0.0,0.0,0.0,,-31.0,0.104,False
c000003,3,0,audio/shard0/c000003.flac,midi/shard0/c000003.mid,fluidr3,56,trumpet,brass,56,10,10,10,1,note,,,,126,126,0.0,0.0,0.0,0.0,,-32.33,0.1399,False
c000004,4,0,audio/shard0/c000004.flac,midi/shard0/c000004.mid,fluidr3,0,acoustic_grand_piano,piano,0,12,12,0,1,note,,,,108,108,0.0,0.0,0.0,0.0,,-31.78,0.0949,False
c000005,5,0,audio/shard0/c000005.flac,midi/shard0/c000005.mid,fluidr3,56,trumpet,brass,56,12,12,0,1,note,,,,95,95,0.0,0.0,0.0,0.0,,-36.63,0.1035,False
c000006,6,0,audio/shard0/c000006.flac,midi/shard0/c000006.mid,fluidr3,56,trumpet,brass,56,10,10,10,1,note,,,,61,61,0.0,0.0,0.0,0.0,,-45.03,0.0324,False
