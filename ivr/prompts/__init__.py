"""Domain: prompt audio, recorded files where they exist, offline speech synthesis (espeak-ng + sox) where
not, all in telephony format; rendered and listed ahead of time by ``minyi prompts build``."""

from ivr.prompts.audio import (
           MISSING,
           RECORDED,
           SYNTH,
           PromptAudio,
           Resolved,
           WavInfo,
           recording_name,
           wav_info,
)
from ivr.prompts.build import BuiltPrompt, build_prompts
from ivr.prompts.catalogue import all_prompts
from ivr.prompts.tts import AudioToolMissing, AudioTools, SynthesisError, missing_tools, script_runs

__all__ = ["MISSING", "RECORDED", "SYNTH", "AudioToolMissing", "AudioTools", "BuiltPrompt", "PromptAudio", "Resolved",
           "SynthesisError", "WavInfo", "all_prompts", "build_prompts", "missing_tools", "recording_name",
           "script_runs", "wav_info"]
