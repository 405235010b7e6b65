"""Static files with DEBUG off: WhiteNoise's compressed copies under hashed names."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """The widget is ES modules (static/js/widget.js and static/js/widget/): collectstatic rewrites
    their relative `import … from "./x.js";` statements to the hashed names too, so a page never
    mixes the modules of two releases. Django finds these statements by pattern: each must end
    with `;` and name its module by a relative path in quotes."""

    support_js_module_import_aggregation = True
