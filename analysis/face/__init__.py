"""Face analysis: video reading, MediaPipe face tracking, AU proxies and OpenFace import, depth."""
