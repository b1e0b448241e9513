"""A starting library of push-title templates in Korean and English (admins edit it)."""

from django.db import migrations

TEMPLATES = [
    # (name, language, priority, pattern)
    ("ko-key-now", "ko", 10, "지금 주목할 소식: {keyphrase}"),
    ("ko-category-key", "ko", 20, "[{category}] {keyphrase}"),
    ("ko-key-summary", "ko", 30, "{keyphrase}, 핵심만 정리했습니다"),
    ("ko-key-key2", "ko", 40, "{keyphrase}·{keyphrase2} 무슨 일?"),
    ("ko-key-check", "ko", 50, "{keyphrase} 소식, 지금 확인하세요"),
    ("ko-category-title", "ko", 60, "[{category}] {title}"),
    ("ko-new-title", "ko", 70, "새 소식 | {title}"),
    ("en-key-what-we-know", "en", 10, "{keyphrase}: what we know"),
    ("en-category-key", "en", 20, "{category}: {keyphrase}"),
    ("en-key-latest", "en", 30, "The latest on {keyphrase}"),
    ("en-key-key2", "en", 40, "{keyphrase} and {keyphrase2}: the story so far"),
    ("en-why-key", "en", 50, "Why {keyphrase} matters"),
    ("en-now-title", "en", 60, "Now: {title}"),
    ("en-category-title", "en", 70, "{category} | {title}"),
]


def seed(apps, schema_editor):
    TitleTemplate = apps.get_model("contents", "TitleTemplate")
    for name, language, priority, pattern in TEMPLATES:
        TitleTemplate.objects.get_or_create(name=name, defaults={"language": language, "priority": priority, "pattern": pattern})


def unseed(apps, schema_editor):
    apps.get_model("contents", "TitleTemplate").objects.filter(name__in=[t[0] for t in TEMPLATES]).delete()


class Migration(migrations.Migration):
    dependencies = [("contents", "0003_editorial_workflow")]
    operations = [migrations.RunPython(seed, unseed)]
