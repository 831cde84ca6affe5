"""Every finding code regaudit can emit, in one table. A code never changes meaning; a retired
code is never reused. ``regaudit rules CODE`` prints these texts. Each code belongs to one family
(the rules module that judges it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice
from enum import Enum

from ..limits import FINDING_IMAGES
from ..model import Finding, Severity
from ..sdscripts import defaults


class Family(str, Enum):
    """Which part of sd-scripts' run a code is about."""

    LAYOUT = "layout"  # which folders and files sd-scripts reads (spec §1-2)
    CAPTIONS = "captions"  # caption files, and captions as the text encoder sees them (spec §3)
    IMAGES = "images"  # image files: headers, pixels, EXIF, latent cache sizes (spec §5)
    START = "start"  # the command line, the dataset config, the trainer's checks and kinds, cache names
    RUN = "run"  # registration, reg balancing, buckets, batches and steps (spec §4-6)
    DUPES = "dupes"  # duplicate pictures (regaudit dupes)
    MUSUBI = "musubi"  # musubi-tuner image datasets: its config, listing, caches and training views


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    family: Family
    summary: str  # one line
    why: str  # why it matters for sd-scripts
    hint: str  # default fix

    def finding(self, path: str, message: str, hint: str | None = None, images: Iterable = ()) -> Finding:
        """The finding at ``path``; ``images`` kept up to ``limits.FINDING_IMAGES`` (the message counts all)."""
        return Finding(self.code, self.name, self.severity, path, message, hint or self.hint,
                       tuple(islice(images, FINDING_IMAGES)))


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO
LAYOUT, CAPTIONS, IMAGES, START, RUN, DUPES, MUSUBI = Family

_RULES = [
    # --- layout: which folders and files sd-scripts reads (spec §1-2)
    Rule("RA001", "unparsed-folder-name", E, LAYOUT,
         "A folder with images whose name does not start with '<repeats>_' is ignored.",
         "sd-scripts splits the folder name on '_' and passes the first piece to int(); when that "
         "fails it logs 'ignore directory without repeats' and never reads the folder.",
         "Rename the folder to '<repeats>_<class tokens>', e.g. '10_sks dog'."),
    Rule("RA002", "repeats-below-one", W, LAYOUT,
         "A folder with repeats < 1 ('0_dog', '-2_dog') is skipped.",
         "Subsets with num_repeats < 1 are dropped before their images are listed.",
         "Give the folder a repeat count of 1 or more, or move it out of the root."),
    Rule("RA003", "images-in-root", E, LAYOUT,
         "Image files directly in a train/reg root are never read (an error when the root has no subset "
         "beside them, a warning for stray files beside subsets).",
         "Only the direct subfolders of train_data_dir/reg_data_dir are subsets; files in the root "
         "itself are ignored. This usually means the concept folder was passed instead of its parent.",
         "Move the images into a '<repeats>_<class tokens>' subfolder, or pass the parent folder."),
    Rule("RA004", "nested-images", W, LAYOUT,
         "Images in folders nested inside a subset are never read.",
         "sd-scripts lists each subset folder without recursing.",
         "Move the images up into the subset folder, or make the nested folder a subset of its own."),
    Rule("RA005", "hidden-entry", I, LAYOUT,
         "Hidden files and folders (names starting with '.') are not read.",
         "The image glob never matches names that start with a dot (macOS '._photo.jpg' files, "
         "'.ipynb_checkpoints').",
         "Nothing to do if they are junk; rename them if they were meant to be trained on."),
    Rule("RA006", "extension-case", E, LAYOUT,
         "An image whose extension has mixed case ('.Jpg', '.jPeg') is never used on Linux/macOS.",
         "sd-scripts globs only '.png .jpg .jpeg .webp .bmp' and their all-uppercase forms, "
         "case-sensitively except on Windows.",
         "Rename the file to a lowercase extension, e.g. 'photo.jpg'."),
    Rule("RA007", "unsupported-format", W, LAYOUT,
         "Files in a subset with an image extension sd-scripts does not glob are ignored.",
         "GIF, TIFF, HEIC, AVIF (without pillow-avif-plugin), JPEG XL (without a plugin) and other "
         "formats are never listed.",
         "Convert them to PNG, JPEG or WebP if they are meant to be trained on."),
    Rule("RA008", "empty-subset", W, LAYOUT,
         "A subset folder with no usable image is ignored ('no images found').",
         "sd-scripts skips subsets whose glob finds nothing.",
         "Add images, fix their extensions, or remove the folder."),
    Rule("RA009", "duplicate-subset", W, LAYOUT,
         "The same folder is configured twice in one dataset; the later one is ignored.",
         "Subsets are compared by their image_dir string; whichever of train or reg comes first wins.",
         "Do not use one folder as both training and regularization data."),
    Rule("RA010", "aliased-subset", W, LAYOUT,
         "One folder is reached through two different paths; sd-scripts registers its images twice.",
         "The duplicate check compares path strings, so a folder named two ways (relative and "
         "absolute, or through a symlink) is read twice and its samples counted twice.",
         "Refer to each folder by one path only."),
    Rule("RA011", "no-subsets", E, LAYOUT,
         "A root or dataset yields no subset with images: there is nothing to train on.",
         "sd-scripts stops with 'No data found' when no dataset has any image.",
         "Check that the root holds '<repeats>_<class tokens>' folders with images in them."),
    Rule("RA012", "image-not-a-file", E, LAYOUT,
         "A directory or dangling symlink has an image name; sd-scripts crashes on it.",
         "The image glob matches names, not files; reading the size of a directory or a broken "
         "link raises an error and the run stops.",
         "Rename the folder or remove the broken link."),
    Rule("RA013", "folder-unreadable", E, LAYOUT,
         "A folder cannot be listed (permissions); sd-scripts sees no images in it, or stops on a train/reg root.",
         "An unreadable subset folder globs to nothing and is skipped as empty; a train/reg root that Path.is_dir "
         "or Path.iterdir raises on (no permission, a path longer than the system takes) stops the run.",
         "Fix the folder's permissions (chmod u+rx)."),
    # --- captions (spec §3)
    Rule("RA020", "caption-empty-file", E, CAPTIONS,
         "A zero-byte caption file crashes sd-scripts ('caption file is empty').",
         "sd-scripts asserts that a caption file has at least one line.",
         "Write a caption into the file, or delete it to fall back to the class tokens."),
    Rule("RA021", "caption-not-utf8", E, CAPTIONS,
         "A caption file that is not valid UTF-8 crashes sd-scripts.",
         "Captions are read as UTF-8 and a decoding error stops the run.",
         "Re-save the caption as UTF-8 (e.g. iconv -f cp1252 -t utf-8)."),
    Rule("RA022", "caption-unreadable", E, CAPTIONS,
         "A caption file cannot be opened (permissions); sd-scripts crashes on it.",
         "sd-scripts opens every caption file it finds while listing a subset.",
         "Fix the file's permissions (chmod u+r)."),
    Rule("RA023", "caption-bom", W, CAPTIONS,
         "A caption starts with a UTF-8 byte-order mark, which ends up in the prompt.",
         "sd-scripts reads captions as 'utf-8', not 'utf-8-sig', and strips only whitespace.",
         "Re-save the caption without a BOM."),
    Rule("RA024", "caption-blank", W, CAPTIONS,
         "A caption file's first line is blank, so the image trains with an empty caption.",
         "Only the first line is used (stripped); a blank one gives an empty caption, with no error.",
         "Put the caption on the first line."),
    Rule("RA025", "caption-multiline", I, CAPTIONS,
         "A caption file has several lines; only the first is used.",
         "sd-scripts reads the first line unless wildcards are enabled.",
         "Join the caption into one line, or enable_wildcard if the lines are alternatives."),
    Rule("RA026", "caption-extension-mismatch", W, CAPTIONS,
         "Caption files beside the images have another extension than the one sd-scripts reads.",
         f"sd-scripts reads '<image stem><caption_extension>' ('{defaults.CAPTION_EXTENSION}' by default); "
         "'.txt' files are ignored unless --caption_extension .txt is given, so the class tokens are used "
         "instead.",
         "Pass --caption_extension .txt to sd-scripts (and to regaudit), or rename the files."),
    Rule("RA027", "shared-caption-stem", W, CAPTIONS,
         "Two images share one file stem and therefore one caption file.",
         "'a.png' and 'a.jpg' in one folder both read 'a<caption_extension>'.",
         "Give every image a unique stem."),
    Rule("RA028", "face-crop-caption-fallback", W, CAPTIONS,
         "The caption comes from another file through the face-crop naming fallback.",
         "When '<stem><ext>' is missing and the path split on '_' has 5 or more pieces, sd-scripts "
         "reads the caption named by all but the last 4 pieces, folders included, possibly outside "
         "the dataset.",
         "Add the image's own caption file, or rename the image with fewer underscores."),
    Rule("RA029", "class-token-captions", I, CAPTIONS,
         "Images without a caption file train on the folder's class tokens.",
         "With no caption file the class tokens are the whole prompt.",
         "Add caption files if the images need more than the class tokens."),
    Rule("RA030", "empty-prompt", W, CAPTIONS,
         "Images have neither a caption file nor class tokens: they train on an empty prompt.",
         "A folder named '<repeats>' alone, or a config subset without class_tokens, gives ''.",
         "Add caption files, or class tokens to the folder name ('10_sks dog')."),
    # --- captions as the text encoder sees them (regaudit captions; prompts.py)
    Rule("RA031", "caption-truncated", W, CAPTIONS,
         "Captions are longer than the CLIP token limit; the text encoder never sees the rest.",
         "sd-scripts tokenizes each caption with CLIP's tokenizer and keeps 75 tokens (150 or 225 with "
         "--max_token_length; always 75 for SD3/FLUX's CLIP), silently dropping the rest. With "
         "shuffle_caption a different random part is cut every step; tags kept in place by keep_tokens or "
         "keep_tokens_separator come first, so if they alone reach the limit no shuffled tag is ever seen, "
         "and a fixed suffix after a second keep_tokens_separator is cut first.",
         "Shorten the captions (drop redundant tags), or pass --max_token_length 225 (SD 1.x/2.x, SDXL)."),
    Rule("RA032", "trigger-word-missing", W, CAPTIONS,
         "Train captions read from caption files do not contain the folder's class tokens (the trigger).",
         "When an image has a caption file, sd-scripts uses it instead of the folder's class tokens: "
         "'10_sks dog' contributes nothing to the prompt. A LoRA trained on captions that never mention "
         "'sks' does not respond to 'sks'.",
         "Add the trigger to the captions (or set caption_prefix, e.g. --caption_prefix 'sks dog,')."),
    Rule("RA033", "trigger-in-reg-caption", W, CAPTIONS,
         "Regularization captions contain a train subset's trigger word.",
         "Reg images teach the model what the class looks like without your subject; a reg caption that "
         "names the trigger ties the trigger to other pictures and teaches the prior your subject.",
         "Remove the trigger from the reg captions (and from the reg folder's class tokens)."),
    Rule("RA034", "caption-duplicate", I, CAPTIONS,
         "Several images share one caption, or a caption repeats a tag.",
         "Identical captions give the text encoder nothing to tell the images apart by, and a repeated "
         "tag spends tokens twice and is counted twice in ss_tag_frequency.",
         "Describe what differs between the images; remove repeated tags."),
    Rule("RA035", "wildcard-syntax", W, CAPTIONS,
         "Wildcard syntax sd-scripts does not read the way it looks.",
         "Without enable_wildcard, '{a|b}' reaches the text encoder with its braces. With it, the pattern "
         "'{[^}]+}' stops at the first '}', so nested groups, '{}' and unclosed braces stay in the prompt; "
         "and the caption_prefix is added before the first line and the caption_suffix after the last, so "
         "a step that draws another line of a multi-line caption gets neither.",
         "Enable wildcards (--enable_wildcard), use one level of '{a|b}' groups, and put the prefix into "
         "every line."),
    Rule("RA036", "separator-syntax", W, CAPTIONS,
         "Caption separators do not split the captions the way the options expect.",
         "process_caption cuts captions on caption_separator only when shuffle_caption, token warmup or tag "
         "dropout is on, then joins the tags with ', '. A caption without the separator is one tag; "
         "keep_tokens_separator outside that branch is plain text; a prefix without a separator joins the "
         "first tag; a third keep_tokens_separator stays in the text.",
         "Use the separator your captions use (--caption_separator), and end caption_prefix with it."),
    Rule("RA037", "caption-separator-empty", E, CAPTIONS,
         "caption_separator is empty while captions are cut into tags: sd-scripts crashes at the first step.",
         "With shuffle_caption, token warmup or tag dropout, process_caption calls str.split(caption_separator), "
         "which raises 'ValueError: empty separator'.",
         "Set caption_separator to ',' (the default) or another non-empty string."),
    Rule("RA038", "caption-augmentation", I, CAPTIONS,
         "Caption dropout, tag dropout, token warmup or keep_tokens change what the text encoder gets.",
         "caption_dropout_rate and caption_dropout_every_n_epochs train with an empty caption; "
         "caption_tag_dropout_rate leaves out each shuffled tag at that rate, the trigger too when it is not "
         "kept; token warmup uses only the first tags early on; keep_tokens does nothing without shuffling, "
         "warmup or tag dropout.",
         "Keep the trigger in the kept part (keep_tokens / keep_tokens_separator) when tags are dropped."),
    Rule("RA094", "caption-absurdly-long", W, CAPTIONS,
         "A caption file is far larger than any caption (over 64 KiB): regaudit reads only its start.",
         "Every text encoder keeps a few hundred tokens at most, so the rest never trains; sd-scripts still reads "
         "the whole file into memory for the image (a huge or sparse file costs memory and time at every start).",
         "Put the caption on one short first line; move anything else out of the caption file."),
    # --- image files (spec §5)
    Rule("RA039", "tag-dominance", W, CAPTIONS,
         "A tag (not the trigger or class tokens) is in most train captions, so it is learned as part of the "
         "subject; or such a tag is in some reg captions.",
         "Every step trains the caption's tags together with the image. A tag in at least 80% of a train "
         "subset's captions (5 captions or more) is almost always there with the trigger, so the trigger "
         "absorbs it: 'white shirt' in 87% of the captions makes the subject wear a white shirt whenever the "
         "trigger is used, and prompting another shirt fights it. A tag as common in the dataset's reg "
         "captions is left alone (it belongs to the class). In reg captions, such a subject tag teaches the "
         "class the subject's look.",
         "If the trait belongs to the subject, drop the tag and let the trigger carry it; if it should stay "
         "promptable, add images without it (captioned so)."),
    Rule("RA040", "image-zero-bytes", E, IMAGES,
         "A zero-byte image file: its size reads as 0x0 and sd-scripts crashes.",
         "An unreadable size becomes (0, 0), which later divides by zero.",
         "Delete the file or replace it with the real image."),
    Rule("RA041", "image-unreadable", E, IMAGES,
         "An image's size cannot be read; sd-scripts crashes on it.",
         "When neither the header nor Pillow gives a size, sd-scripts uses (0, 0) and divides by "
         "zero when bucketing; an unopenable file stops the run.",
         "Re-export the image, or remove it."),
    Rule("RA042", "image-header-crash", E, IMAGES,
         "An image header sd-scripts' size reader recognises but cannot parse crashes the run at once.",
         "The header reader (imagesize) raises on a malformed JPEG/WebP header instead of falling back.",
         "Re-export the image (e.g. open and save it again), or remove it."),
    Rule("RA043", "image-truncated", E, IMAGES,
         "An image cannot be fully decoded (truncated or corrupt data); training crashes when it loads.",
         "The header can be fine while the pixel data is cut short; Pillow raises when decoding.",
         "Re-download or re-export the image."),
    Rule("RA044", "exif-rotated", W, IMAGES,
         "The image carries an EXIF orientation: sd-scripts ignores it and trains the stored pixels.",
         "Neither the size nor the pixels are rotated by sd-scripts: a phone photo stored sideways "
         "trains sideways, and its bucket is chosen from the unrotated size.",
         "Apply the rotation to the pixels (e.g. exiftran -ai, or ImageOps.exif_transpose) and drop the tag."),
    Rule("RA045", "transparency-dropped", W, IMAGES,
         "The image has transparency, which sd-scripts drops when it converts to RGB.",
         "Pixels are converted to RGB (RGBA only with alpha_mask); the colour under transparent "
         "areas, often black, becomes part of the training image.",
         "Flatten the image onto the background you want, or use alpha_mask."),
    Rule("RA046", "cmyk-converted", W, IMAGES,
         "A CMYK image is converted to RGB without colour management; colours shift.",
         "Pillow's plain CMYK to RGB conversion ignores ICC profiles.",
         "Convert to sRGB with a colour-managed tool before training."),
    Rule("RA047", "palette-converted", I, IMAGES,
         "A palette (indexed-colour) image is converted to RGB.",
         "Indexed images are expanded to RGB; dithering and banding are trained as they are.",
         "Nothing to do unless the palette is visibly lossy; re-export as full colour if so."),
    Rule("RA048", "high-bit-depth", W, IMAGES,
         "A 16/32-bit grayscale image is clipped to 8 bits when converted, usually to near white.",
         "Pillow's conversion of 'I;16'/'I'/'F' images to RGB clips values above 255.",
         "Convert the image to 8-bit before training."),
    Rule("RA049", "format-mismatch", I, IMAGES,
         "The file's content is another format than its extension says.",
         "sd-scripts reads the content, so this works, but tools that trust extensions may not.",
         "Rename the file to its real extension."),
    Rule("RA050", "huge-image", E, IMAGES,
         "The image is larger than Pillow's decompression-bomb limit; loading it raises an error.",
         "Pillow refuses images above about 179 million pixels, so the run crashes when it loads it.",
         "Downscale the image before training."),
    Rule("RA051", "latent-cache-size", W, IMAGES,
         "A latent cache file beside the image sets a size that differs from the image's own.",
         "The real trainers take an image's size from the name of a '<prefix>_<W>x<H>_sd.npz' (or _sdxl, "
         "_sd3, _flux) file matched by path prefix, so a stale cache, or another image's cache whose name "
         "starts with this image's name, decides its bucket.",
         "Delete the stale cache files (they are rebuilt), or rename images so no name is a prefix of another."),
    Rule("RA052", "image-unloadable", E, IMAGES,
         "Pillow cannot open an image whose header gave sd-scripts a size: training fails when it loads it.",
         "sd-scripts reads sizes with imagesize, which trusts a file's first bytes (an SVG saved as .png, a PNG "
         "with a decompression-bomb text chunk or a bad checksum, a WebP cut short). The dataset is built and the "
         "image counted in the steps; the first time it is loaded (a step, or latent caching) Pillow raises.",
         "Convert the file to a real PNG, JPEG or WebP, or remove it."),
    Rule("RA098", "finetuning-image-unloadable", E, IMAGES,
         "A fine-tuning key whose size sd-scripts took from the metadata or a cache file name names no "
         "image it can open: training fails when it first loads it.",
         "With image_size in the metadata (or, without it, a latent cache file whose name starts with the "
         "key) FineTuningDataset never opens the file: the key is registered, bucketed and counted in the "
         "steps, and latent caching or the first batch that draws it opens the path and raises "
         "(FileNotFoundError for a file that is not there; for a key matched to a cache file, sd-scripts "
         "stores that .npz as the image). With --cache_latents_to_disk an existing cache file for the key "
         "is read instead (regaudit does not look inside it).",
         "Put the image at that path, or fix the key (merge_captions_to_metadata.py --full_path, or the "
         "image_dir / --train_data_dir it is relative to), or remove the entry from the metadata."),
    # --- where sd-scripts stops (START) and registration, balancing, buckets, steps (RUN; spec §4-6)
    Rule("RA053", "latent-cache-stale", W, IMAGES,
         "An image was modified after the latents cache file sd-scripts reads for it.",
         "With --cache_latents_to_disk, sd-scripts looks up '<stem>_<WWWW>x<HHHH><suffix>.npz' (SD/SDXL: an old "
         "'<stem>.npz' first) and keeps it when its latents' shape fits the bucket, which it does while the "
         "image size is unchanged (with --skip_cache_check without looking inside). It never compares the "
         "dates: the picture as it was when the cache was written trains, not the edited one.",
         "Delete the stale .npz files; sd-scripts encodes the images again and writes new ones."),
    Rule("RA074", "zero-width-bucket", E, RUN,
         "With bucket_no_upscale, an image narrower than bucket_reso_steps gets a bucket of width 0.",
         "sd-scripts builds the dataset and counts the steps, but the image's pixels are cropped to an empty "
         "array; the first VAE convolution then raises RuntimeError while caching latents or at the first step "
         "that draws the image.",
         "Remove or enlarge the image (both sides at least bucket_reso_steps), or lower --bucket_reso_steps."),
    Rule("RA076", "latent-cache-name-crash", E, START,
         "A latent cache file name without a '<W>x<H>' size stops sd-scripts while it builds the dataset.",
         "With a latents caching strategy installed, sd-scripts reads the size of every matched cache file "
         "from the piece of its path between the last two '_' and passes both halves to int(); a name such "
         "as 'a_sd.npz' raises ValueError.",
         "Delete the stray cache file (sd-scripts rebuilds its cache files) or rename it."),
    Rule("RA077", "command-line-stop", E, START,
         "sd-scripts stops on its command line before it starts.",
         "Each trainer parses its options with argparse (unique prefixes allowed): an unknown option, an "
         "ambiguous prefix, a value of the wrong type or a --config_file that is missing stops the script "
         "at once; an invalid --resolution stops it in its argument checks.",
         "Fix the option as the message says (the closest real option is named where there is one)."),
    Rule("RA078", "trainer-dataset-kind", E, START,
         "The trainer script cannot take this kind of dataset.",
         "fine_tune.py reads only --in_json metadata datasets and the ControlNet trainers read only "
         "conditioning-image datasets; given DreamBooth folders, their config check stops the run "
         "(voluptuous MultipleInvalid) while the dataset is built. train_db.py --masked_loss checks every "
         "dataset against the ControlNet schema too: folders fail at is_reg, a dataset config's subsets at "
         "the missing conditioning_data_dir.",
         "Use a DreamBooth/LoRA trainer (train_network.py, sdxl_train_network.py, ...) or the dataset kind "
         "this trainer expects."),
    Rule("RA079", "start-check", E, START,
         "A check sd-scripts makes right after building the dataset stops the run before training.",
         "After the dataset is built, the trainer asserts its options against it: cache_latents with "
         "color_aug or random_crop, text-encoder caching with caption shuffling or dropout, SDXL-only "
         "arguments, the bucket_reso_steps multiple.",
         "Change the options as the message says."),
    Rule("RA092", "path-of-another-machine", W, START,
         "A path in the training command cannot exist on this machine (a Windows drive or share on Linux/macOS).",
         "Commands pasted from the kohya_ss GUI's log on Windows name C:\\... paths; regaudit cannot read them "
         "here, so it audits only what it can read and says which checks are missing.",
         "Run regaudit on the machine that trains, or copy the files here and give their local paths."),
    Rule("RA093", "conditioning-images", E, START,
         "A subset with conditioning_data_dir (ControlNet, or --masked_loss) does not pair its images with "
         "conditioning images one to one.",
         "ControlNetDataset needs one conditioning image with the same file name for every image, and no "
         "conditioning image left over; it also refuses random_crop. sd-scripts asserts while it builds the dataset.",
         "Give every image a mask/conditioning image of the same name (any image extension), remove the extra "
         "ones, and turn random_crop off for these subsets."),
    Rule("RA097", "finetuning-metadata-stop", E, START,
         "sd-scripts stops on a fine-tuning dataset's metadata (--in_json or metadata_file).",
         "FineTuningDataset raises while it is built: a metadata file that does not exist ('no metadata'), "
         "one that is not JSON, relative image keys without image_dir / --train_data_dir, or no latents "
         "caching strategy (fine_tune.py, sdxl_train.py, sd3_train.py, flux_train.py and lumina_train.py install "
         "one only with --cache_latents, and the build reads its cache suffix).",
         "Fix the path or the file as the message says; with a fine-tuning trainer add --cache_latents; make the "
         "metadata with merge_captions_to_metadata.py --full_path, or give the image folder."),
    Rule("RA091", "dataset-config-stop", E, START,
         "sd-scripts stops on the dataset config.",
         "A missing file, an extension other than .toml/.json, a parse error, or a key or value its "
         "schema does not allow (for example prior_loss_weight in the TOML, or class_tokens in a "
         "[[datasets]] block without subsets) stops sd-scripts before any folder is read.",
         "Fix the dataset config as the message says."),
    Rule("RA096", "resize-interpolation", E, RUN,
         "A dataset's resize_interpolation is not a name sd-scripts knows; it stops while building the dataset.",
         "BaseDataset asserts that the dataset's value (from its [[datasets]] block, [general], or a "
         "--config_file, which argparse's choices never check) is one of lanczos, nearest, bilinear, linear, "
         "bicubic, cubic, area, box, in lower case. A subset's own resize_interpolation is not checked there.",
         "Use one of lanczos, nearest, bilinear, linear, bicubic, cubic, area, box (lower case)."),
    Rule("RA095", "float-train-steps", E, START,
         "max_train_steps is not an integer: sd-scripts stops when training starts, after loading its models.",
         "A --config_file value is not converted by argparse: max_train_epochs = 2.5 (or 2.0) makes "
         "max_train_steps = 2.5 x the steps per epoch, a float, and max_train_steps = 100.5 stays one. The "
         "trainer counts its steps and loads its models, then fails at range(max_train_steps) (TypeError).",
         "Write max_train_epochs and max_train_steps as integers in the --config_file (2, not 2.5 or 2.0)."),
    Rule("RA060", "no-resolution", E, RUN,
         "No training resolution is given; sd-scripts stops at start.",
         "DreamBoothDataset requires a resolution ('resolution is required').",
         "Pass --resolution N or W,H, or set resolution in the dataset config."),
    Rule("RA061", "bucket-limits", E, RUN,
         "The resolution lies outside min/max_bucket_reso; sd-scripts stops with an assertion.",
         "With bucketing, min(resolution) >= min_bucket_reso and max(resolution) <= max_bucket_reso are "
         "asserted after both are rounded to bucket_reso_steps.",
         "Adjust --min_bucket_reso/--max_bucket_reso so the resolution lies between them."),
    Rule("RA062", "bucket-steps", E, RUN,
         "bucket_reso_steps is not a multiple of what the trainer requires; it stops at start.",
         "train_network.py and train_db.py need a multiple of 64, SDXL/SD3/FLUX LoRA 32, FLUX full "
         "fine-tuning and Lumina 16, SD3 full fine-tuning 8.",
         "Use --bucket_reso_steps 64 (SD 1.x/2.x) or 32 (SDXL)."),
    Rule("RA063", "bucket-crash", E, RUN,
         "Choosing a registered image's bucket divides by zero; sd-scripts crashes while making buckets.",
         "An unreadable size (0x0), an image shorter than bucket_reso_steps with --bucket_no_upscale, or an "
         "extreme aspect ratio that rounds a side to 0 all raise ZeroDivisionError.",
         "Fix or remove the image, or crop extreme aspect ratios."),
    Rule("RA064", "low-resolution", W, RUN,
         "Images are much smaller than their bucket: upscaled more than 2x, or (bucket_no_upscale) trained "
         "in a bucket of their own far below the resolution.",
         "sd-scripts scales each image to cover its bucket; a 128x128 photo in a 1024 run is blown up 8x and "
         "teaches blur and JPEG blocks. With --bucket_no_upscale it is not upscaled but becomes its own "
         "128x128 bucket, trained at 1/64 of the resolution's area. The threshold is an upscale of 2x "
         "(each side of the bucket more than twice the image's).",
         "Replace the images with larger originals, or leave them out."),
    Rule("RA065", "no-data", E, RUN,
         "No dataset registers any image; sd-scripts stops with 'No data found'.",
         "With no train images nothing is registered, and reg images are only drawn to match train samples.",
         "Point --train_data_dir at the folder that holds the '<repeats>_<tokens>' subfolders."),
    Rule("RA066", "reg-unused", W, RUN,
         "Reg samples exceed train samples, so some reg images are never used.",
         "The balancing loop stops as soon as the reg samples reach the train samples; the rest of the reg "
         "list is never registered.",
         "Lower the reg folders' repeats, remove reg images, or add train images/repeats."),
    Rule("RA067", "reg-order-dependent", W, RUN,
         "Which reg images are used depends on the order the OS lists the reg folders.",
         "Reg subsets are visited in directory-listing order (unsorted; hash order on ext4), so another "
         "machine or a copied tree can use a different prefix of the reg list.",
         "Use one reg folder, or make the reg samples no more than the train samples."),
    Rule("RA068", "reg-overshoot", I, RUN,
         "Reg folders with repeats > 1 overshoot the train samples.",
         "The loop adds a whole folder-repeat count per image and checks only afterwards.",
         "Use repeats 1 for reg folders to match the train samples exactly."),
    Rule("RA069", "no-reg", I, RUN,
         "The dataset has no regularization images.",
         "Without reg images there is no prior preservation; that may be what you want.",
         "Add a reg_data_dir if you want prior preservation."),
    Rule("RA070", "reg-only-dataset", W, RUN,
         "A dataset has reg images but no train images, so it contributes nothing.",
         "Reg images are registered only while the reg samples are below the train samples of the same "
         "dataset; with none, the loop never runs.",
         "Put reg subsets in the same [[datasets]] block as the train subsets they regularise."),
    Rule("RA071", "unbucketed-size", E, RUN,
         "Without bucketing, images that are not exactly the resolution stop training when loaded.",
         "With latents not cached, an image smaller than W x H fails 'image size is small' and a larger "
         "one needs random_crop.",
         "Pass --enable_bucket, --cache_latents, or resize the images to the resolution."),
    Rule("RA072", "bucket-limits-rounded", I, RUN,
         "min/max_bucket_reso are not multiples of bucket_reso_steps and are rounded.",
         "sd-scripts rounds min down and max up to the steps, with a warning.",
         "Use multiples of bucket_reso_steps."),
    Rule("RA073", "reg-repeated", I, RUN,
         "There are fewer reg samples than train samples, so reg images are repeated beyond their folder's repeats.",
         "Later passes of the balancing loop add one repeat per reg image, round-robin, until the train "
         "samples are matched.",
         "Add reg images if you want more variety rather than more repeats."),
    Rule("RA075", "steps-halved", I, RUN,
         "Reg images add batches, so a fixed max_train_steps covers fewer epochs.",
         "Reg samples roughly double the batches per epoch; with max_train_steps fixed "
         f"({defaults.MAX_TRAIN_STEPS} by default) "
         "the train images are seen about half as often.",
         "Use --max_train_epochs, or raise max_train_steps."),
    Rule("RA090", "not-simulated", W, RUN,
         "An sd-scripts option that changes the counts is set, and regaudit does not simulate it.",
         "validation_split holds back part of each train subset; cache_info makes sd-scripts read the "
         "image list, captions and sizes from metadata_cache.json instead of the folder.",
         "Read the figures as 'before validation split' / 'as the folder is now'."),
    # --- duplicates (regaudit dupes)
    Rule("RA080", "train-reg-leakage", W, DUPES,
         "A training image and a regularization image are the same picture.",
         "Reg images teach the model what the class looks like without your subject; the same picture "
         "in both pulls the subject towards the prior and the prior towards the subject.",
         "Remove the picture from the reg set."),
    Rule("RA081", "duplicate-train", W, DUPES,
         "Training images are duplicates of each other; the picture's repeats multiply.",
         "Each copy is registered with its folder's repeats, so a picture in two copies is trained twice "
         "as often as the others and overfits first.",
         "Keep one copy, or lower the repeats on purpose."),
    Rule("RA082", "duplicate-reg", I, DUPES,
         "Regularization images are duplicates of each other.",
         "Duplicate reg images add no variety but take reg samples from other pictures.",
         "Keep one copy."),
    Rule("RA083", "mirror-duplicate", W, DUPES,
         "Two training images are mirror images, which flip_aug makes the same sample.",
         "With flip_aug each image is randomly mirrored, so a mirrored copy duplicates the picture.",
         "Keep one of them, or train without --flip_aug."),
    Rule("RA084", "exif-hidden-duplicate", W, DUPES,
         "Two files show the same picture only once EXIF rotation is applied.",
         "sd-scripts ignores EXIF orientation, so one of them trains sideways or mirrored.",
         "Apply the EXIF rotation to the pixels, then keep one copy."),
    # --- musubi: kohya-ss/musubi-tuner image datasets (regaudit/musubi/)
    Rule("RM001", "musubi-config-stop", E, MUSUBI,
         "musubi-tuner stops on the dataset config before reading any image.",
         "load_user_config, the voluptuous schema, a dataset constructor or the unique cache_directory check "
         "raise before caching or training starts.",
         "Fix the dataset config as the message says."),
    Rule("RM002", "musubi-no-caption-dropped", I, MUSUBI,
         "Images without a caption file are left out silently (caption_extension is set).",
         "glob_images keeps only images whose stem has a caption file; the rest are never cached or trained.",
         "Write a caption file for each image you want trained."),
    Rule("RM003", "musubi-image-not-listed", W, MUSUBI,
         "An image musubi never lists: mixed-case extension, a name starting with '.', or a nested folder.",
         "glob_images globs '*.png', '*.PNG', ... in the image_directory itself, case-sensitively where the OS is.",
         "Rename the file (lower- or upper-case extension, no leading '.') or move it into image_directory."),
    Rule("RM004", "musubi-orphan-caption", I, MUSUBI,
         "A caption file with no image of its stem.",
         "It is read by nothing; usually its image was renamed or deleted.",
         "Delete it, or restore its image."),
    Rule("RM005", "musubi-no-caption-extension", E, MUSUBI,
         "caption_extension is not set: both caching scripts fail with FileNotFoundError: ''.",
         "get_caption opens splitext(path)[0] + caption_extension only when one is set, '' otherwise.",
         "Set caption_extension = \".txt\" in [general] or the dataset."),
    Rule("RM006", "musubi-caching-crash", E, MUSUBI,
         "An image or caption stops the caching run (unreadable image, caption not UTF-8, a zero bucket).",
         "The caching scripts open every image and caption in order and stop at the first failure.",
         "Fix or remove the file."),
    Rule("RM007", "musubi-cache-name-shared", W, MUSUBI,
         "Images with the same stem share one cache file (a.png and a.jpg).",
         "Cache names drop the extension: both images write one text-encoder cache (one caption trains for both), "
         "and at the same size one latent cache (one image is lost).",
         "Give every image a unique stem."),
    Rule("RM008", "musubi-missing-te-cache", W, MUSUBI,
         "Latent caches without their text-encoder cache are skipped by the trainer.",
         "prepare_for_training skips a latent whose {key}_{arch}_te.safetensors does not exist (a warning only).",
         "Run the <arch>_cache_text_encoder_outputs.py script."),
    Rule("RM009", "musubi-orphan-cache", W, MUSUBI,
         "Cache files of images no longer in the dataset still train.",
         "Only cache files train: a deleted or resized image keeps training from its old cache until the caching "
         "scripts run again (they delete it unless --keep_cache).",
         "Run the caching scripts again, or delete the cache files."),
    Rule("RM010", "musubi-stale-latent", W, MUSUBI,
         "A latent cache was made for another bucket than the one it now trains in.",
         "The latent's stored size comes from an earlier resolution or bucket setting (e.g. --skip_existing after "
         "editing the TOML); the trainer batches it by the new bucket.",
         "Run <arch>_cache_latents.py again without --skip_existing."),
    Rule("RM011", "musubi-bad-cache-name", E, MUSUBI,
         "A file in the cache directory stops training start.",
         "prepare_for_training parses the size from every '*_{arch}.safetensors' name and reads its header; a stray "
         "name such as notes_qi.safetensors raises ValueError.",
         "Move the file out of the cache directory."),
    Rule("RM012", "musubi-no-training-items", E, MUSUBI,
         "'No training items found': nothing would train.",
         "The trainer builds items from cache files only; with no latent + text-encoder cache pair it stops.",
         "Run the caching scripts first, and check that captions exist."),
    Rule("RM013", "musubi-not-simulated", I, MUSUBI,
         "A dataset regaudit does not simulate yet (video, image_jsonl_file, control_directory, multiple_target).",
         "Its images are not listed and the step figures are left out.",
         "Check this dataset by hand."),
    Rule("RM014", "musubi-caches-behind", W, MUSUBI,
         "The caches on disk would train something else than the dataset after caching.",
         "Only cache files train; the images and captions changed since the last caching run.",
         "Run <arch>_cache_latents.py and <arch>_cache_text_encoder_outputs.py before training."),
    Rule("RM015", "musubi-caption-absurdly-long", W, MUSUBI,
         "A caption file is far larger than any caption (over 64 KiB): regaudit reads only its start.",
         "musubi reads the whole file and its text encoders keep a few hundred tokens of it.",
         "Check the caption file: it is likely not a caption (a log, a dump, a sparse file)."),
    Rule("RM016", "musubi-bucket-division", E, MUSUBI,
         "enable_bucket with a resolution too small for the bucket step: musubi divides by zero.",
         "BucketSelector enumerates bucket widths from half the square root of the area, rounded down to the "
         "architecture's step; below two steps that width is 0 and it divides the area by it. Latent caching and "
         "training build the selector first, so both stop with ZeroDivisionError before any image.",
         "Give a resolution of at least two bucket steps a side, or turn enable_bucket off."),
]

REGISTRY: dict[str, Rule] = {r.code: r for r in _RULES}
BY_NAME: dict[str, Rule] = {r.name: r for r in _RULES}

assert len(REGISTRY) == len(_RULES) and len(BY_NAME) == len(_RULES), "duplicate rule code or name"


def rule(code: str) -> Rule:
    return REGISTRY[code]


def lookup(key: str) -> Rule | None:
    """A rule by code (case-insensitive) or by name."""
    return REGISTRY.get(key.upper()) or BY_NAME.get(key.lower())
