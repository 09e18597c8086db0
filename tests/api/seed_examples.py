"""Every curl example of the seed documents (``tests/fixtures/seeds/*.txt``), copied verbatim: path, headers and body bytes.

Generated once from the seed files; ``test_seeds.py`` re-checks the copy against them when they are present.
Only the host/port and the token value change at replay time (and example.com image URLs point at a local server).
"""

from __future__ import annotations

SEED_CURLS: list[tuple[str, str, str, list[str], str]] = [
    # (seed file, original URL, path, headers, body)
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "美丽的少女,胶片感",\n"ratio": "4:3"\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "一只可爱的小猫咪",\n"ratio": "1:1",\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "壮丽的山水风景",\n"ratio": "21:9",\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "美丽的少女,胶片感",\n"ratio": "4:3",\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "现代建筑设计",\n"width": 1536,\n"height": 2304,\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/compositions",
        "/v1/images/compositions",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "将这张照片转换为油画风格,色彩鲜艳,笔触明显",\n"images": ["https://example.com/photo.jpg"],\n"ratio": "1:1",\n"sample_strength": 0.7\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/compositions",
        "/v1/images/compositions",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "将这些图片融合成一幅梦幻的超现实主义作品",\n"images": [\n"https://example.com/landscape.jpg",\n"https://example.com/portrait.jpg",\n"https://example.com/abstract.jpg"\n],\n"ratio": "4:3",\n"negative_prompt": "模糊,低质量,变形",\n"sample_strength": 0.5\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/images/compositions",
        "/v1/images/compositions",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"prompt": "创建一个科幻风格的城市景观",\n"images": [\n{"url": "https://example.com/city.jpg"},\n{"url": "https://example.com/sci-fi-elements.jpg"}\n],\n"width": 2688,\n"height": 1152,\n"response_format": "url"\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/chat/completions",
        "/v1/chat/completions",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-video-3.0",\n"messages": [\n{\n"role": "user",\n"content": "生成一个海浪拍打海岸的视频"\n}\n],\n"stream": true\n}',
    ),
    (
        "000_f8219e4da993852e.txt",
        "http://localhost:5100/v1/chat/completions",
        "/v1/chat/completions",
        ["Content-Type: application/json", "Authorization: Bearer YOUR_SESSION_ID"],
        '{\n"model": "jimeng-4.0",\n"messages": [\n{\n"role": "user",\n"content": "画一幅山水画"\n}\n]\n}',
    ),
    (
        "001_016c59cd9db2df0c.txt",
        "http://localhost:8000/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer your_sessionid_here"],
        '{\n    "model": "jimeng-4.5",\n    "prompt": "美丽的日落风景，湖边的小屋",\n    "width": 2048,\n    "height": 2048,\n    "sample_strength": 0.7,\n    "response_format": "url"\n  }',
    ),
    (
        "001_016c59cd9db2df0c.txt",
        "http://localhost:8000/v1/images/generations",
        "/v1/images/generations",
        ["Content-Type: application/json", "Authorization: Bearer your_sessionid_here"],
        '{\n    "model": "jimeng-4.5",\n    "prompt": "生成4张连续场景的图片：春夏秋冬四季风景",\n    "width": 2048,\n    "height": 2048,\n    "sample_strength": 0.5\n  }',
    ),
    (
        "001_016c59cd9db2df0c.txt",
        "http://localhost:8000/v1/images/compositions",
        "/v1/images/compositions",
        ["Content-Type: application/json", "Authorization: Bearer your_sessionid_here"],
        '{\n    "model": "jimeng-4.5",\n    "prompt": "将这些图片合成为一幅充满创意的艺术作品",\n    "images": [\n      "https://example.com/image1.jpg",\n      "https://example.com/image2.jpg"\n    ],\n    "width": 2560,\n    "height": 1440,\n    "sample_strength": 0.6,\n    "response_format": "url"\n  }',
    ),
    (
        "001_016c59cd9db2df0c.txt",
        "http://localhost:8000/v1/videos/generations",
        "/v1/videos/generations",
        ["Content-Type: application/json", "Authorization: Bearer your_sessionid_here"],
        '{\n    "model": "jimeng-video-3.0",\n    "prompt": "一只可爱的小猫在草地上玩耍",\n    "width": 1024,\n    "height": 1024,\n    "resolution": "720p"\n  }',
    ),
]
