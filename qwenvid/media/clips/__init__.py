"""Clip tools on PyAV and Pillow: inspect, cut, join, add sound, grab frames, fit inputs to a model's limits.

Library functions with typed results (no Typer/Rich); `qwenvid media …` is their command line and the
multi-step plans call them as media steps. Every one streams frames and packets, writes to a temporary
name and renames it when complete, and refuses to replace an existing file unless `overwrite=True`.
"""

from qwenvid.media.clips._av import ClipError
from qwenvid.media.clips.audio import AudioFit, AudioMode, add_audio
from qwenvid.media.clips.concat import concat
from qwenvid.media.clips.cut import ClipResult, tail, trim
from qwenvid.media.clips.fit import FitResult, fit_input
from qwenvid.media.clips.frames import FrameResult, extract_frame, grab_frame, thumbnails
from qwenvid.media.clips.info import AudioFileInfo, ImageFileInfo, VideoFileInfo, media_info, video_info
from qwenvid.media.clips.sheet import SheetResult, contact_sheet

__all__ = [
    "AudioFileInfo",
    "AudioFit",
    "AudioMode",
    "ClipError",
    "ClipResult",
    "FitResult",
    "FrameResult",
    "ImageFileInfo",
    "SheetResult",
    "VideoFileInfo",
    "add_audio",
    "concat",
    "contact_sheet",
    "extract_frame",
    "fit_input",
    "grab_frame",
    "media_info",
    "tail",
    "thumbnails",
    "trim",
    "video_info",
]
