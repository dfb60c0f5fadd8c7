"""Peak memory and speed of ``sklearn-vpnn separate`` on a long stereo file.

Generates a ``--minutes`` long (default 60) stereo 44.1 kHz WAV by tiling a few
synthetic songs, written block by block (never held in memory), fits a
default-size VPNN (hidden_units=512, n_fft=1024) for one epoch on tiny data so
the compute per frame is realistic, then runs ``sklearn-vpnn separate`` on the
file in a subprocess and prints the child's own peak resident memory (its
ru_maxrss, ``_common.run_child``) and the real-time factor (audio seconds / wall
seconds).

As a baseline measured in the same run, it also separates the first
``--baseline-seconds`` of the file whole (no chunking) in the same way and
reports the ratio of speeds.

Usage::

    python benchmarks/bench_long_file.py --minutes 10
    python benchmarks/bench_long_file.py            # 60 minutes
"""

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cli_command, run_child  # noqa: E402


def make_long_file(path, minutes, sample_rate=44100, seed=0):
    import soundfile as sf

    from sklearn_vpnn import make_drum_mixtures

    songs = make_drum_mixtures(n_tracks=4, duration=15.0, sample_rate=sample_rate, n_channels=2,
                               random_state=seed).X  # (4, 2, 15 s)
    n_total = int(minutes * 60 * sample_rate)
    written = 0
    with sf.SoundFile(str(path), "w", samplerate=sample_rate, channels=2, format="WAV",
                      subtype="PCM_16") as f:
        i = 0
        while written < n_total:
            block = songs[i % len(songs)].T[: n_total - written]
            f.write(block)
            written += len(block)
            i += 1
    return written


def make_model(path, n_fft=1024, hidden_units=512, sample_rate=44100):
    from sklearn.pipeline import make_pipeline

    from sklearn_vpnn import STFT, InverseSTFT, VPNNSeparator, make_drum_mixtures, save_model

    data = make_drum_mixtures(n_tracks=2, duration=2.0, sample_rate=sample_rate, random_state=1)
    pipe = make_pipeline(STFT(n_fft=n_fft, sample_rate=sample_rate),
                         VPNNSeparator(hidden_units=hidden_units, max_epochs=1, device="cpu",
                                       validation_fraction=0, random_state=0),
                         InverseSTFT())
    pipe.fit(data.X, data.y)
    save_model(pipe, path, overwrite=True)  # the command line's safe model file format


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="length of the test file")
    p.add_argument("--chunk-seconds", type=float, default=30.0)
    p.add_argument("--baseline-seconds", type=float, default=60.0,
                   help="length separated whole (no chunking) as the speed baseline")
    p.add_argument("--workdir", default=None, help="where to put the files (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    args = p.parse_args(argv)

    import soundfile as sf

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-long-"))
    work.mkdir(parents=True, exist_ok=True)
    audio, model = work / "long.wav", work / "model.safetensors"
    try:
        t0 = time.perf_counter()
        n = make_long_file(audio, args.minutes)
        print(f"wrote {audio} ({n / 44100 / 60:.1f} min stereo 44.1 kHz) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        make_model(model)
        print(f"fitted a default-size VPNN (hidden_units=512, n_fft=1024) in {time.perf_counter() - t0:.1f} s")

        exe = cli_command()
        cmd = exe + ["separate", str(audio), "--model", str(model), "-o", str(work / "out"),
                     "--chunk-seconds", str(args.chunk_seconds), "--no-progress", "--device", "cpu",
                     "--force"]
        print("running:", " ".join(cmd), flush=True)
        wall, peak = run_child(cmd)
        secs = n / 44100

        # baseline: a short excerpt separated whole, in the same kind of child process
        base_s = min(args.baseline_seconds, secs)
        base_file = work / "excerpt.wav"
        with sf.SoundFile(str(audio)) as f:
            sf.write(str(base_file), f.read(int(base_s * 44100), dtype="float32"), 44100)
        wall_b, peak_b = run_child(exe + ["separate", str(base_file), "--model", str(model), "-o",
                                          str(work / "out-base"), "--chunk-seconds", str(base_s + 1),
                                          "--no-progress", "--device", "cpu", "--force"])
        print(f"baseline (whole {base_s:.0f} s excerpt, one chunk): {wall_b:.1f} s wall, "
              f"real-time factor {base_s / wall_b:.1f}x, peak RSS {peak_b:.0f} MB")
        print(f"long file: {secs / 60:.1f} min audio in {wall:.1f} s wall: real-time factor "
              f"{secs / wall:.1f}x ({(secs / wall) / (base_s / wall_b):.2f} of the baseline's speed)")
        print(f"peak RSS of the separating process (its own ru_maxrss): {peak:.0f} MB")
        for name in ("drums", "accompaniment"):
            info = sf.info(str(work / "out" / "long" / f"{name}.wav"))
            assert info.frames == n, (info.frames, n)
        print(f"outputs complete: {n} frames per source")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
