"""SeqIO preprocessors: raw examples of any source -> frames of unified ids -> model batches."""
