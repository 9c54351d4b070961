import sys

if sys.argv[1:2] == ["video"]:  # protocol 5, video sessions: evaluation/video.py
    from evaluation.video import main as video

    sys.exit(video(sys.argv[2:]))

from evaluation.core import main

sys.exit(main())
