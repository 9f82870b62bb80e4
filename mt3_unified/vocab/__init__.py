"""Token codecs of the symbolic modalities and the one vocabulary that holds every modality."""
