"""Files as the NAS lists them: listings awake or asleep, who may see what, and changes.

``service.FileServices`` is what the app holds. Its parts: ``paths`` (the NAS's path rules and
``Viewer``), ``access`` (each user's ``Viewer`` with the shares the NAS granted), ``metadata``
(the metadata cache), ``listing`` and ``mutations`` (the two request flows), ``upstream`` (the
way to the NAS as a user), ``items`` (BaluHost's ``FileItem``), ``model`` (the vocabulary) and
``hooks`` (where the file cache, the upload overlay and the offline queue plug in).

Nothing is imported here, so importing ``balupi.services.files.paths`` stays cheap.
"""
