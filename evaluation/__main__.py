import sys

if sys.argv[1:2] == ["video"]:  # protocol 5, video sessions: evaluation/video.py
    from evaluation.video import main as video

    sys.exit(video(sys.argv[2:]))
if sys.argv[1:2] == ["video-real"]:  # protocol 6, real video sessions: evaluation/video_real.py
    from evaluation.video_real import main as video_real

    sys.exit(video_real(sys.argv[2:]))
if sys.argv[1:2] == ["fairness"]:  # issue 25 item 6, scores by group: evaluation/fairness.py
    from evaluation.fairness import main as fairness

    sys.exit(fairness(sys.argv[2:]))

from evaluation.core import main

sys.exit(main())
