"""A generated Telegram Desktop JSON export (no real person's chat), for the converter's tests and end-to-end tests.

    info = write_export(tmp_path / "export")              # a full export: 3 chats, every sticker kind
    info = write_export(tmp_path / "one", chats=1, single=True, seed=1)   # "Export chat history" of one chat
    stickerchat.data.telegram.convert([info.path], out)   # -> a corpus `stickerchat.train --data_dir` reads

The export is what Telegram Desktop writes (`result.json` + the files it
names, in the layout of a full export: `chats/chat_NNN/stickers/...`): chats
of made-up users `user101`... whose texts cue an emotion ("haha", "sad", ...)
that the sticker sent next shows (a face of that emotion, in one of two
variants), so a model can learn from it. It holds the cases the converter
must handle: service messages (group creation, invitations), `text` as
entity lists (bold, links, mentions), photos without text, replies, the same
sticker sent in several chats (the same bytes in each chat's folder), one
animated `.tgs` and one video `.webm` sticker (when PyAV can write one), a
sticker whose file the export left out but whose thumbnail it kept, and one
left out entirely.

`ExportInfo` says what a correct conversion finds in it.
"""

from __future__ import annotations

import dataclasses
import datetime
import gzip
import io
import json
import os
from typing import Dict, List, Optional

import numpy as np
from PIL import Image, ImageDraw

NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
EMOTIONS = (
    ("😂", ("haha", "lol", "funny", "hilarious")),
    ("😢", ("sad", "sorry", "miss", "cry")),
    ("😍", ("love", "cute", "sweet", "adorable")),
    ("😠", ("angry", "hate", "annoying", "worst")),
    ("😴", ("tired", "sleepy", "night", "bed")),
    ("😮", ("wow", "really", "omg", "whoa")),
)
FILLER = ("the", "a", "we", "you", "go", "today", "train", "lunch", "later", "ok", "maybe", "work", "game", "is", "so")
BASE_DATE = 1_700_000_000  # 2023-11-14


def webm_writable() -> bool:
    """Whether PyAV with a VP9 encoder is installed (needed to write the `.webm` sticker)."""
    try:
        import av
    except ImportError:
        return False
    return "libvpx-vp9" in av.codecs_available


# --- Sticker files ---------------------------------------------------------------------------------
def face_image(emotion: int, variant: int, size: int = 128) -> Image.Image:
    """An RGBA face (transparent background) showing one of the `EMOTIONS`, in one of two variants."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    palette = [(255, 210, 0), (90, 150, 255), (255, 110, 180), (235, 60, 40), (150, 150, 170), (250, 150, 30)]
    s = size / 128.0
    box = [10 * s, 10 * s, 118 * s, 118 * s]
    colour = palette[emotion] + (255,)
    if variant == 0:
        d.ellipse(box, fill=colour, outline=(40, 30, 30, 255), width=max(1, int(3 * s)))
    else:
        d.rounded_rectangle(box, radius=24 * s, fill=colour, outline=(40, 30, 30, 255), width=max(1, int(3 * s)))
    ink = (30, 20, 20, 255)
    for cx in (44, 84):
        d.ellipse([(cx - 6) * s, 44 * s, (cx + 6) * s, 56 * s], fill=ink)
    mouths = {
        0: lambda: d.chord([36 * s, 66 * s, 92 * s, 100 * s], 0, 180, fill=ink),
        1: lambda: d.arc([40 * s, 80 * s, 88 * s, 108 * s], 200, 340, fill=ink, width=max(1, int(4 * s))),
        2: lambda: d.polygon([(52 * s, 70 * s), (76 * s, 70 * s), (64 * s, 90 * s)], fill=(200, 20, 60, 255)),
        3: lambda: d.line([(40 * s, 92 * s), (88 * s, 84 * s)], fill=ink, width=max(1, int(5 * s))),
        4: lambda: d.line([(44 * s, 86 * s), (84 * s, 86 * s)], fill=ink, width=max(1, int(3 * s))),
        5: lambda: d.ellipse([54 * s, 72 * s, 74 * s, 100 * s], fill=ink),
    }
    mouths[emotion]()
    if variant == 1:
        d.polygon([(34 * s, 14 * s), (94 * s, 14 * s), (64 * s, 0)], fill=(40, 40, 160, 255))  # a hat
    return img


def write_webp(path: str, image: Image.Image) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image.save(path, "WEBP", lossless=True)


def write_jpg(path: str, image: Image.Image) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    canvas = Image.new("RGB", image.size, (255, 255, 255))
    canvas.paste(image, mask=image.getchannel("A"))
    canvas.save(path, "JPEG", quality=90)


def lottie_json(colour=(1.0, 0.0, 0.0), size: int = 128, frames: int = 30) -> dict:
    """A tiny valid Lottie animation: one filled square growing over `frames` frames."""
    half = size / 2
    return {
        "v": "5.5.2", "fr": 30, "ip": 0, "op": frames, "w": size, "h": size, "nm": "test", "ddd": 0, "assets": [],
        "layers": [{
            "ddd": 0, "ind": 1, "ty": 4, "nm": "square", "sr": 1, "ao": 0, "ip": 0, "op": frames, "st": 0, "bm": 0,
            "ks": {
                "o": {"a": 0, "k": 100}, "r": {"a": 0, "k": 0}, "p": {"a": 0, "k": [half, half, 0]},
                "a": {"a": 0, "k": [0, 0, 0]},
                "s": {"a": 1, "k": [
                    {"t": 0, "s": [60, 60, 100], "i": {"x": [0.5] * 3, "y": [1] * 3}, "o": {"x": [0.5] * 3, "y": [0] * 3}},
                    {"t": frames, "s": [100, 100, 100]},
                ]},
            },
            "shapes": [{"ty": "gr", "nm": "group", "it": [
                {"ty": "rc", "nm": "rect", "d": 1, "s": {"a": 0, "k": [half, half]}, "p": {"a": 0, "k": [0, 0]}, "r": {"a": 0, "k": 8}},
                {"ty": "fl", "nm": "fill", "c": {"a": 0, "k": [*colour, 1]}, "o": {"a": 0, "k": 100}, "r": 1},
                {"ty": "tr", "p": {"a": 0, "k": [0, 0]}, "a": {"a": 0, "k": [0, 0]}, "s": {"a": 0, "k": [100, 100]},
                 "r": {"a": 0, "k": 0}, "o": {"a": 0, "k": 100}},
            ]}],
        }],
    }


def write_tgs(path: str, colour=(1.0, 0.0, 0.0)) -> None:
    """A `.tgs` sticker: the gzipped Lottie JSON of `lottie_json`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(gzip.compress(json.dumps(lottie_json(colour)).encode(), mtime=0))


def write_webm(path: str, image: Image.Image, frames: int = 3) -> None:
    """A VP9 `.webm` video sticker with an alpha channel (needs PyAV; see `webm_writable`)."""
    import av

    os.makedirs(os.path.dirname(path), exist_ok=True)
    rgba = np.asarray(image.convert("RGBA"))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=30)
        stream.width, stream.height = image.size
        stream.pix_fmt = "yuva420p"
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgba, format="rgba")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


# --- Messages ---------------------------------------------------------------------------------------
def _date_fields(unixtime: int) -> dict:
    local = datetime.datetime.fromtimestamp(unixtime, datetime.timezone.utc).replace(tzinfo=None)
    return {"date": local.isoformat(), "date_unixtime": str(unixtime)}


def text_message(message_id: int, unixtime: int, user: int, text, reply_to: Optional[int] = None, **extra) -> dict:
    """A message as Telegram Desktop writes it (`text` a string or a list of strings and entities)."""
    message = {"id": message_id, "type": "message", **_date_fields(unixtime), "from": f"Person {user}", "from_id": f"user{user}"}
    if reply_to is not None:
        message["reply_to_message_id"] = reply_to
    message["text"] = text
    parts = text if isinstance(text, list) else ([text] if text else [])
    message["text_entities"] = [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts]
    message.update(extra)
    return message


def sticker_message(message_id: int, unixtime: int, user: int, file: str, emoji: str, thumbnail: Optional[str] = None,
                    reply_to: Optional[int] = None, width: int = 512, height: int = 512) -> dict:
    message = {"id": message_id, "type": "message", **_date_fields(unixtime), "from": f"Person {user}", "from_id": f"user{user}"}
    if reply_to is not None:
        message["reply_to_message_id"] = reply_to
    message["file"] = file
    if thumbnail is not None:
        message["thumbnail"] = thumbnail
    message.update({"media_type": "sticker", "sticker_emoji": emoji, "width": width, "height": height, "text": "", "text_entities": []})
    return message


def service_message(message_id: int, unixtime: int, user: int, action: str = "invite_members") -> dict:
    message = {"id": message_id, "type": "service", **_date_fields(unixtime), "actor": f"Person {user}",
               "actor_id": f"user{user}", "action": action, "text": "", "text_entities": []}
    if action == "invite_members":
        message["members"] = ["Person 999"]
    return message


@dataclasses.dataclass
class ExportInfo:
    """What a correct conversion of a generated export finds.

    Attributes:
        path: str. The export directory (holds `result.json`).
        examples: int. Sticker messages that become examples.
        stickers: int. Distinct stickers (by bytes) among them.
        sticker_messages: int. All sticker messages (examples + skipped).
        not_included: int. Sticker messages whose file and thumbnail were
            left out (`sticker_not_included`).
        from_thumbnail: int. Sticker messages read from their thumbnail.
        service_messages: int.
        cross_chat_stickers: int. Distinct stickers sent in two or more chats.
        kinds: Dict[str, int]. Distinct stickers by file kind.
        users: List[int]. The users' numeric ids (`userN` -> N).
        dates: Dict[int, int]. Sticker message id -> unix time (message
            ids are unique across the generated chats).
    """

    path: str
    examples: int
    stickers: int
    sticker_messages: int
    not_included: int
    from_thumbnail: int
    service_messages: int
    cross_chat_stickers: int
    kinds: Dict[str, int]
    users: List[int]
    dates: Dict[int, int]


def write_export(directory, *, seed: int = 0, chats: int = 3, turns_per_chat: int = 30, single: bool = False,
                 animated: bool = True, video: Optional[bool] = None, missing: bool = True) -> ExportInfo:
    """Writes a generated Telegram Desktop JSON export into `directory`; returns what it holds.

    Args:
        directory: where `result.json` and the media folders go (created).
        seed: int. Everything drawn depends on it only.
        chats: int. Number of chats (a personal chat, then groups).
        turns_per_chat: int. Each turn is 1-3 texts and, mostly, a sticker.
        single: bool. A one-chat "Export chat history" (`messages` at the top;
            needs `chats=1`) instead of a full export (`chats.list`).
        animated: bool. Include the `.tgs` sticker.
        video: Optional[bool]. Include the `.webm` sticker; None: when PyAV
            can write it.
        missing: bool. Include the two stickers the export left out.
    """
    if single and chats != 1:
        raise ValueError("a one-chat export has chats=1")
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    video = webm_writable() if video is None else video
    rng = np.random.default_rng(seed)
    users = [101 + k for k in range(6)]
    faces = {(e, v): face_image(e, v) for e in range(len(EMOTIONS)) for v in range(2)}
    chat_list = []
    message_id = 1000
    examples = from_thumbnail = not_included = services = sticker_messages = 0
    used_in: Dict[str, set] = {}
    kinds: Dict[str, str] = {}
    dates: Dict[int, int] = {}
    for c in range(chats):
        folder = "" if single else f"chats/chat_{c + 1:03d}/"
        members = users if c else users[:2]
        chat_type = "personal_chat" if c == 0 else "private_supergroup"
        messages = []
        t = BASE_DATE + 3600 * c + int(rng.integers(0, 600))
        if c:
            messages.append(service_message(message_id, t, members[0], "create_group"))
            message_id += 1
            t += 30
            messages.append(service_message(message_id, t, members[0], "invite_members"))
            message_id += 1
            services += 2
        written = set()

        def file_of(key: str, write) -> str:
            relative = f"{folder}stickers/{key}"
            if relative not in written:
                write(os.path.join(directory, relative))
                written.add(relative)
            return relative

        for turn in range(turns_per_chat):
            emotion = int(rng.integers(len(EMOTIONS)))
            cues = EMOTIONS[emotion][1]
            last_text_id = None
            for k in range(int(rng.integers(1, 4))):
                t += int(rng.integers(20, 400))
                words = [FILLER[int(i)] for i in rng.integers(len(FILLER), size=int(rng.integers(2, 6)))]
                if k == 0 or rng.random() < 0.5:
                    words.insert(int(rng.integers(len(words) + 1)), cues[int(rng.integers(len(cues)))])
                text_words = " ".join(words)
                style = rng.random()
                if style < 0.15:  # an entity list: bold, a link, a mention
                    text = [f"{text_words} ", {"type": "bold", "text": "Really"}, " see ",
                            {"type": "link", "text": "https://example.org/x"}, " ", {"type": "mention", "text": "@friend"}]
                elif style < 0.2:
                    text = text_words.capitalize() + "!"
                else:
                    text = text_words
                user = members[int(rng.integers(len(members)))]
                messages.append(text_message(message_id, t, user, text, reply_to=last_text_id if rng.random() < 0.2 else None))
                last_text_id = message_id
                message_id += 1
            if turn % 7 == 3:  # a photo without text in the context
                t += 15
                messages.append(text_message(message_id, t, members[0], "", photo=f"{folder}photos/photo_{turn}.jpg", width=640, height=480))
                message_id += 1
            special = turn if c == 0 and turn in (5, 9, 13, 17) else None
            if special is None and rng.random() < 0.1:
                continue  # a turn without a sticker
            t += int(rng.integers(5, 120))
            sender = members[int(rng.integers(len(members)))]
            variant = 0 if (sender + emotion) % 3 else 1  # users lean towards one variant
            emoji = EMOTIONS[emotion][0]
            thumbnail = None
            if animated and special == 5:
                key, kind = "AnimatedSticker.tgs", "tgs"
                file = file_of(key, lambda p: write_tgs(p, colour=(1.0, 0.8, 0.0)))
                emoji = EMOTIONS[0][0]
            elif video and special == 9:
                key, kind = "sticker.webm", "webm"
                file = file_of(key, lambda p: write_webm(p, faces[(5, 0)]))
                emoji = EMOTIONS[5][0]
            elif missing and special == 13:  # the file left out, its thumbnail kept
                key, kind = "sticker_thumb_only.webp_thumb.jpg", "thumbnail"
                file = NOT_INCLUDED
                thumbnail = file_of(key, lambda p: write_jpg(p, faces[(emotion, variant)].resize((64, 64))))
            elif missing and special == 17:  # left out entirely
                messages.append(sticker_message(message_id, t, sender, NOT_INCLUDED, emoji))
                message_id += 1
                sticker_messages += 1
                not_included += 1
                continue
            else:
                key, kind = f"sticker_{emotion}_{variant}.webp", "webp"
                file = file_of(key, lambda p: write_webp(p, faces[(emotion, variant)]))
            reply = last_text_id if rng.random() < 0.3 else None
            messages.append(sticker_message(message_id, t, sender, file, emoji, thumbnail=thumbnail, reply_to=reply))
            dates[message_id] = t
            message_id += 1
            sticker_messages += 1
            examples += 1
            from_thumbnail += kind == "thumbnail"
            used_in.setdefault(key, set()).add(c)
            kinds[key] = kind
        chat = {"name": f"Chat {c + 1}", "type": chat_type, "id": 7000 + c, "messages": messages}
        chat_list.append(chat)
    if single:
        result = chat_list[0]
    else:
        result = {"about": "Here is the data you requested.", "chats": {"about": "This page lists all chats.", "list": chat_list}}
    with open(os.path.join(directory, "result.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
    kind_counts: Dict[str, int] = {}
    for kind in kinds.values():
        kind_counts[kind] = kind_counts.get(kind, 0) + 1
    return ExportInfo(
        path=directory,
        examples=examples,
        stickers=len(used_in),
        sticker_messages=sticker_messages,
        not_included=not_included,
        from_thumbnail=from_thumbnail,
        service_messages=services,
        cross_chat_stickers=sum(len(v) > 1 for v in used_in.values()),
        kinds=kind_counts,
        users=users,
        dates=dates,
    )
